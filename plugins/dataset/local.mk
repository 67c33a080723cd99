# dataset plugins
