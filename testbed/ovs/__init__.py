"""Everything Open vSwitch: the switch backend (backend.py), its planned records
(records.py), OpenFlow tables (openflow.py), port-security flows (portsec.py) and the
private daemons of each switch (daemons.py)."""
