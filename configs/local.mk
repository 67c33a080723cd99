# Experiments shipped with gradscope.
configsdir = $(pkgdatadir)/configs
dist_configs_DATA = configs/quickstart.cfg
