"""The fast netlink encoders produce exactly pyroute2's bytes."""
import socket

import pytest
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

from testbed.kernel import netlink, nlencode

CREATE = netlink.CREATE


def reference(cls, fields, attrs, msg_type, flags, seq):
    msg = cls()
    for key, value in fields.items():
        msg[key] = value
    msg["attrs"] = attrs
    msg["header"]["type"] = msg_type
    msg["header"]["flags"] = flags
    msg["header"]["sequence_number"] = seq
    msg.encode()
    return bytes(msg.data)


@pytest.mark.parametrize("master", [None, 2])
def test_veth(master):
    peer = {"index": 5, "attrs": [("IFLA_IFNAME", "h1-eth0"), ("IFLA_ADDRESS", "02:00:00:00:00:01"),
                                  ("IFLA_NET_NS_FD", 9)]}
    attrs = [("IFLA_IFNAME", "s1-eth1"), ("IFLA_ADDRESS", "02:01:00:00:00:01"), ("IFLA_NET_NS_FD", 7)]
    if master:
        attrs.append(("IFLA_MASTER", master))
    attrs.append(("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_DATA", {
        "attrs": [("VETH_INFO_PEER", peer)]})]}))
    ref = reference(ifinfmsg, {"index": 3, "flags": 1, "change": 1}, attrs, 16, CREATE, 4)
    mine = nlencode.veth(4, CREATE, name="s1-eth1", index=3, mac="02:01:00:00:00:01", netns_fd=7,
                         master=master, up=True, peer_name="h1-eth0", peer_index=5,
                         peer_mac="02:00:00:00:00:01", peer_netns_fd=9)
    assert mine == ref


def test_bridge_device():
    data = [("IFLA_BR_AGEING_TIME", 0), ("IFLA_BR_STP_STATE", 1), ("IFLA_BR_FORWARD_DELAY", 200),
            ("IFLA_BR_PRIORITY", 4096), ("IFLA_BR_MCAST_SNOOPING", 0)]
    attrs = [("IFLA_IFNAME", "s1"), ("IFLA_ADDRESS", "02:02:00:00:00:01"), ("IFLA_NET_NS_FD", 7),
             ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "bridge"), ("IFLA_INFO_DATA", {"attrs": data})]})]
    ref = reference(ifinfmsg, {"index": 2, "flags": 1, "change": 1}, attrs, 16, CREATE, 1)
    mine = nlencode.device(1, CREATE, kind="bridge", name="s1", index=2, mac="02:02:00:00:00:01", netns_fd=7,
                           up=True, data={"ageing_time": 0, "stp_state": 1, "forward_delay": 200,
                                          "priority": 4096, "mcast_snooping": 0})
    assert mine == ref


def test_plain_device_without_namespace():
    attrs = [("IFLA_IFNAME", "eth0"), ("IFLA_ADDRESS", "02:00:00:00:00:09"),
             ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "dummy")]})]
    ref = reference(ifinfmsg, {"index": 4, "flags": 1, "change": 1}, attrs, 16, CREATE, 2)
    assert nlencode.device(2, CREATE, kind="dummy", name="eth0", index=4, mac="02:00:00:00:00:09",
                           netns_fd=None, up=True) == ref


@pytest.mark.parametrize("up,master", [(True, None), (False, None), (True, 3), (None, 3)])
def test_setlink(up, master):
    fields = {"index": 7}
    if up is not None:
        fields.update(flags=1 if up else 0, change=1)
    attrs = [("IFLA_MASTER", master)] if master else []
    ref = reference(ifinfmsg, fields, attrs, 19, netlink.CHANGE, 3)
    assert nlencode.setlink(3, netlink.CHANGE, index=7, up=up, master=master) == ref


@pytest.mark.parametrize("cidr,brd", [("10.0.0.1/24", "10.0.0.255"), ("10.1.2.3/31", None),
                                      ("10.9.0.1/8", "10.255.255.255")])
def test_address(cidr, brd):
    ip, prefix = cidr.split("/")
    attrs = [("IFA_LOCAL", ip), ("IFA_ADDRESS", ip)] + ([("IFA_BROADCAST", brd)] if brd else [])
    ref = reference(ifaddrmsg, {"family": socket.AF_INET, "prefixlen": int(prefix), "index": 2},
                    attrs, 20, CREATE, 8)
    assert nlencode.address(8, CREATE, index=2, cidr=cidr) == ref


@pytest.mark.parametrize("dst", ["default", "10.2.0.0/24"])
def test_route(dst):
    attrs = [] if dst == "default" else [("RTA_DST", dst.split("/")[0])]
    attrs.append(("RTA_GATEWAY", "10.0.0.1"))
    fields = {"family": socket.AF_INET, "dst_len": 0 if dst == "default" else 24, "table": 254,
              "proto": 4, "scope": 0, "type": 1}
    ref = reference(rtmsg, fields, attrs, 24, CREATE, 5)
    assert nlencode.route(5, CREATE, dst=dst, via="10.0.0.1") == ref


def test_neighbour():
    ref = reference(ndmsg, {"family": socket.AF_INET, "ifindex": 2, "state": 0x80},
                    [("NDA_DST", "10.0.0.7"), ("NDA_LLADDR", "02:00:00:00:00:01")], 28, CREATE, 6)
    assert nlencode.neighbour(6, CREATE, index=2, ip="10.0.0.7", mac="02:00:00:00:00:01", state=0x80) == ref


@pytest.mark.parametrize("mac", [None, "02:00:00:00:00:05"])
def test_macvlan(mac):
    attrs = [("IFLA_IFNAME", "eth0"), ("IFLA_LINK", 4), ("IFLA_NET_NS_FD", 8)]
    if mac:
        attrs.append(("IFLA_ADDRESS", mac))
    attrs.append(("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "macvlan"), ("IFLA_INFO_DATA", {
        "attrs": [("IFLA_MACVLAN_MODE", 4)]})]}))
    ref = reference(ifinfmsg, {"index": 3, "flags": 1, "change": 1}, attrs, 16, CREATE, 9)
    assert nlencode.macvlan(9, CREATE, name="eth0", index=3, mac=mac, netns_fd=8, parent_index=4, mode=4,
                            up=True) == ref


def test_vlan_filtering_bridge():
    data = [("IFLA_BR_AGEING_TIME", 30000), ("IFLA_BR_STP_STATE", 0), ("IFLA_BR_VLAN_FILTERING", 1)]
    attrs = [("IFLA_IFNAME", "s1"), ("IFLA_ADDRESS", "02:02:00:00:00:01"), ("IFLA_NET_NS_FD", 7),
             ("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", "bridge"), ("IFLA_INFO_DATA", {"attrs": data})]})]
    ref = reference(ifinfmsg, {"index": 2, "flags": 1, "change": 1}, attrs, 16, CREATE, 3)
    mine = nlencode.device(3, CREATE, kind="bridge", name="s1", index=2, mac="02:02:00:00:00:01", netns_fd=7,
                           up=True, data={"ageing_time": 30000, "stp_state": 0, "vlan_filtering": 1})
    assert mine == ref


def test_nsid():
    from pyroute2.netlink.rtnl.nsidmsg import nsidmsg
    ref = reference(nsidmsg, {}, [("NETNSA_NSID", 0xFFFFFFFF), ("NETNSA_FD", 12)], 88, CREATE, 7)   # -1 as u32
    assert nlencode.nsid(7, CREATE, netns_fd=12, nsid=-1) == ref
