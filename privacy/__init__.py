"""Personal data over time: the retention job that anonymises old complaints, and `muara forget`."""
