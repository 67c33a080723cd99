# loss plugins
