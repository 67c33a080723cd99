# initializer plugins
