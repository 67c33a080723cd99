# The manual page.
dist_man_MANS = man/gradscope.1
