# Experiments shipped with gradscope.
configsdir = $(pkgdatadir)/configs
dist_configs_DATA = configs/quickstart.cfg configs/plain-vs-resnet.cfg configs/densenet.cfg \
	configs/sigmoid-batchnorm.cfg configs/fashion-mlp.cfg
