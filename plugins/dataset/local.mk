# dataset plugins
plugin_LTLIBRARIES += plugins/dataset/data_synthetic.la
plugins_dataset_data_synthetic_la_SOURCES = plugins/dataset/data_synthetic.c
plugins_dataset_data_synthetic_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_dataset_data_synthetic_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_dataset_data_synthetic_la_LIBADD = -lm

plugin_LTLIBRARIES += plugins/dataset/data_idx.la
plugins_dataset_data_idx_la_SOURCES = plugins/dataset/data_idx.c
plugins_dataset_data_idx_la_CFLAGS = $(PLUGIN_CFLAGS) $(ZLIB_CFLAGS)
plugins_dataset_data_idx_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_dataset_data_idx_la_LIBADD = $(ZLIB_LIBS) -lm

plugin_LTLIBRARIES += plugins/dataset/data_csv.la
plugins_dataset_data_csv_la_SOURCES = plugins/dataset/data_csv.c
plugins_dataset_data_csv_la_CFLAGS = $(PLUGIN_CFLAGS)
plugins_dataset_data_csv_la_LDFLAGS = $(PLUGIN_LDFLAGS)
plugins_dataset_data_csv_la_LIBADD = -lm
