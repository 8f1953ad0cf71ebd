"""Host-side policies, family-neutral parts: the actions and driver (:mod:`.driver`) and
the reboot back-off rule (:mod:`.backoff`). A family's own policy lives in its package
(BG96 Figure 1: ``atconform.families.bg96.policy``), its numbers in its spec."""
