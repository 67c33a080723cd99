# Learning-rate schedules (issue 3).
