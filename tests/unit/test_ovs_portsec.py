"""Port security on an Open vSwitch bridge: the flows made from the Plan, and their counters."""
from testbed import load
from testbed.ovs import openflow
from testbed.ovs import portsec as ovs_portsec
from testbed.ovs.records import switch_of
from testbed.planning import pipeline as planner

H1_MAC, H1_IP = "02:00:00:00:01:01", "10.0.0.11"


def _plan(**params):
    graph, _ = load("topologies/port_security.py", {"backend": "ovs", **{k: str(v) for k, v in params.items()}})
    plan = planner.plan(graph)
    return plan, switch_of(plan, "s1"), plan.concern("portsec").of("s1")


def _ofport(node, port):
    return node.port(port).ofport


def test_binding_passes_only_the_bound_mac_and_ip_and_counts_the_rest():
    plan, node, settings = _plan()
    assert openflow.flows(node) is None                     # a plain learning switch...
    table = ovs_portsec.flows(node, settings)               # ...with port security in front
    h1 = next(p for p in settings if p.mac)
    n = _ofport(node, h1.port)
    go = "actions=resubmit(,1)"
    assert f"table=0,priority=300,in_port={n},dl_src={H1_MAC},ip,nw_src={H1_IP},{go}" in table
    assert f"table=0,priority=300,in_port={n},dl_src={H1_MAC},arp,arp_spa={H1_IP},{go}" in table
    assert f"table=0,priority=300,in_port={n},dl_src={H1_MAC},arp,arp_spa=0.0.0.0,{go}" in table
    drop_ip = f"cookie={ovs_portsec.cookie(n, 'ip'):#x},actions=drop"
    assert f"table=0,priority=250,in_port={n},dl_src={H1_MAC},ip,{drop_ip}" in table
    assert f"table=0,priority=250,in_port={n},dl_src={H1_MAC},arp,{drop_ip}" in table
    assert f"table=0,priority=200,in_port={n},dl_src={H1_MAC},{go}" in table       # e.g. IPv6
    assert f"table=0,priority=100,in_port={n},cookie={ovs_portsec.cookie(n, 'mac'):#x},actions=drop" in table
    assert "table=0,priority=0,actions=resubmit(,1)" in table                     # unbound ports
    assert len(set(table)) == len(table)


def test_mac_limit_tries_each_slot_and_drops_past_the_last():
    plan, node, settings = _plan(relax=True)                # phys: 3 MACs, h1 and h2: 1
    table = ovs_portsec.flows(node, settings)
    limits = {_ofport(node, p.port): p.max_macs for p in settings if p.max_macs}
    assert sorted(limits.values()) == [1, 1, 3]
    for n, limit in limits.items():
        steps = [f for f in table if f.startswith(f"table=6,priority=100,in_port={n},reg5=1,")]
        assert len(steps) == limit                          # next slot (limit - 1 times), then drop
        for slot in range(1, limit):
            assert (f"table=6,priority=100,in_port={n},reg5=1,reg4={slot},"
                    f"actions=load:{slot + 1}->NXM_NX_REG4[],resubmit(,4)") in table
        assert (f"table=6,priority=100,in_port={n},reg5=1,reg4={limit},"
                f"cookie={ovs_portsec.cookie(n, 'macs'):#x},actions=drop") in table
        assert f"table=1,priority=100,in_port={n},actions=load:0->NXM_NX_REG3[],resubmit(,2),resubmit(,3)" in table
    free = next(f for f in table if f.startswith("table=6,priority=100,reg5=0,"))
    assert "learn(table=2,priority=100,NXM_OF_IN_PORT[],NXM_OF_ETH_SRC[]" in free
    assert "learn(table=5,priority=100,NXM_OF_IN_PORT[],NXM_NX_REG4[]" in free and free.endswith(",NORMAL")
    assert "table=1,priority=0,actions=NORMAL" in table      # unlimited ports: the learning switch


def test_a_binding_alone_skips_the_mac_limit_tables():
    g, _ = load("topologies/port_security.py", {"backend": "ovs"})
    del g.nodes["s1"]["max_macs"]
    plan = planner.plan(g)
    table = ovs_portsec.flows(switch_of(plan, "s1"), plan.concern("portsec").of("s1"))
    assert not any(f.startswith("table=1,priority=100") or "reg5=1" in f for f in table)
    assert any("dl_src=" + H1_MAC in f for f in table)


def test_counters_read_back_from_a_flow_dump_per_port():
    plan, node, settings = _plan()
    h1 = next(p for p in settings if p.mac)
    n = _ofport(node, h1.port)
    dump = "\n".join([
        "NXST_FLOW reply (xid=0x4):",
        f" cookie={ovs_portsec.cookie(n, 'ip'):#x}, duration=1.0s, table=0, n_packets=2, n_bytes=84, priority=250,ip",
        f" cookie={ovs_portsec.cookie(n, 'ip'):#x}, duration=1.0s, table=0, n_packets=3, n_bytes=84, priority=250,arp",
        f" cookie={ovs_portsec.cookie(n, 'mac'):#x}, duration=1.0s, table=0, n_packets=7, n_bytes=1, priority=100",
        " cookie=0x0, duration=1.0s, table=0, n_packets=99, n_bytes=1, priority=0 actions=resubmit(,1)",
    ])
    counters = ovs_portsec.read_counters(dump, node, settings)
    assert counters[h1.port] == {"mac": 7, "ip": 5, "macs": 0}
    assert set(counters) == {p.port for p in settings}
    assert all(v == {"mac": 0, "ip": 0, "macs": 0} for port, v in counters.items() if port != h1.port)
    assert ovs_portsec.counters_by_port(dump, {n: h1.port}) == {h1.port: {"mac": 7, "ip": 5, "macs": 0}}


def test_port_names_from_ofctl_show():
    show = ("OFPT_FEATURES_REPLY (xid=0x2): dpid:0000020000000001\n"
            " 1(s1-eth1): addr:aa:bb:cc:dd:ee:01\n     config:     0\n"
            " 3(s1-eth3): addr:aa:bb:cc:dd:ee:03\n LOCAL(s1): addr:02:00:00:00:00:ff\n")
    assert ovs_portsec.port_names(show) == {1: "s1-eth1", 3: "s1-eth3"}
