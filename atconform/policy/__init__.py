"""Host-side recovery policies (BG96 flow chart, Figure 1). Numbers come from the
spec's ``flow_chart:`` section, never from this code."""
