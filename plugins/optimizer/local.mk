# optimizer plugins
