# Fixture plugins for the loader and check-plugin tests: one source, one case each.
FIXTURE_LDFLAGS = -module -avoid-version -shared -rpath /nowhere -export-symbols-regex '^(gradscope_plugin_entry|not_the_entry)$$'
EXTRA_DIST += tests/fixtures/fixture.c
check_LTLIBRARIES += tests/fixtures/fx_valid.la
tests_fixtures_fx_valid_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_valid_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_VALID
tests_fixtures_fx_valid_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_valid_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_noentry.la
tests_fixtures_fx_noentry_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_noentry_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_NO_ENTRY
tests_fixtures_fx_noentry_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_noentry_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_badmagic.la
tests_fixtures_fx_badmagic_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_badmagic_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_BAD_MAGIC
tests_fixtures_fx_badmagic_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_badmagic_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_abimajor.la
tests_fixtures_fx_abimajor_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_abimajor_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_ABI_MAJOR
tests_fixtures_fx_abimajor_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_abimajor_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_newerminor.la
tests_fixtures_fx_newerminor_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_newerminor_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_NEWER_MINOR
tests_fixtures_fx_newerminor_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_newerminor_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_nullname.la
tests_fixtures_fx_nullname_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_nullname_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_NULL_NAME
tests_fixtures_fx_nullname_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_nullname_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_dupparam.la
tests_fixtures_fx_dupparam_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_dupparam_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_DUP_PARAM
tests_fixtures_fx_dupparam_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_dupparam_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_initfails.la
tests_fixtures_fx_initfails_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_initfails_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_INIT_FAILS
tests_fixtures_fx_initfails_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_initfails_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_wrongbackward.la
tests_fixtures_fx_wrongbackward_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_wrongbackward_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_WRONG_BACKWARD -DFX_COMPONENT='"fx_wrong"'
tests_fixtures_fx_wrongbackward_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_wrongbackward_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_dupcomponent.la
tests_fixtures_fx_dupcomponent_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_dupcomponent_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_DUP_COMPONENT
tests_fixtures_fx_dupcomponent_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_dupcomponent_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_badkind.la
tests_fixtures_fx_badkind_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_badkind_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_BAD_KIND
tests_fixtures_fx_badkind_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_badkind_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_twin.la
tests_fixtures_fx_twin_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_twin_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_VALID
tests_fixtures_fx_twin_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_twin_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_falseelementwise.la
tests_fixtures_fx_falseelementwise_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_falseelementwise_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_FALSE_ELEMENTWISE -DFX_COMPONENT='"fx_double_ew"'
tests_fixtures_fx_falseelementwise_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_falseelementwise_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_stockrelu.la
tests_fixtures_fx_stockrelu_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_stockrelu_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_VALID -DFX_COMPONENT='"relu"'
tests_fixtures_fx_stockrelu_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_stockrelu_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_size20.la
tests_fixtures_fx_size20_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_size20_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_SIZE_2_0
tests_fixtures_fx_size20_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_size20_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_larger.la
tests_fixtures_fx_larger_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_larger_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_LARGER
tests_fixtures_fx_larger_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_larger_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_largernewer.la
tests_fixtures_fx_largernewer_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_largernewer_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_LARGER_NEWER
tests_fixtures_fx_largernewer_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_largernewer_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_undersized.la
tests_fixtures_fx_undersized_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_undersized_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_UNDERSIZED
tests_fixtures_fx_undersized_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_undersized_la_LDFLAGS = $(FIXTURE_LDFLAGS)
check_LTLIBRARIES += tests/fixtures/fx_f32only.la
tests_fixtures_fx_f32only_la_SOURCES = tests/fixtures/fixture.c
tests_fixtures_fx_f32only_la_CPPFLAGS = $(AM_CPPFLAGS) -DFX_CASE=FX_F32_ONLY
tests_fixtures_fx_f32only_la_CFLAGS = $(PLUGIN_CFLAGS)
tests_fixtures_fx_f32only_la_LDFLAGS = $(FIXTURE_LDFLAGS)
