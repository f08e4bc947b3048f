"""The routing attributes as written, parsed once into typed records.

Node attribute ``routing`` (kinds that forward), a dict of protocols and settings, or a
protocol name, or a list of names (each with its defaults):

    routing={"ospf": {"area": 0}}                           OSPFv2, every interface in area 0
    routing={"bgp": {"asn": 65002, "announce": ["203.0.113.0/24"]}, "ospf": {}}
    routing="rip"                                           RIP v2 with its defaults
    routing={"isis": {}, "router_id": "10.255.0.9", "loopback": "10.255.0.9/32", "ecmp": 4}

Link attributes ``ospf``, ``isis``, ``rip`` (False: not on this link; a dict: settings of
the link's routing interfaces), ``bgp`` (False: no session over this link) and ``bfd``
(True, or {"interval": ms, "multiplier": n}). A setting that differs per direction (an
OSPF cost, an IS-IS metric) may be a dict keyed by the link's node names.

Defaults are a lab's, not FRR's: OSPF hello 1 s / dead 4 s, BGP keepalive 1 s / hold 3 s,
RIP updates every 5 s, IS-IS hellos every second, BFD every 200 ms (x3), so that a network
converges in seconds.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Mapping

from testbed.model.schema import Invalid, Invalids

PROTOCOLS = ("ospf", "bgp", "rip", "isis")
IGPS = ("ospf", "isis", "rip")
ROUTING_KEYS = PROTOCOLS + ("router_id", "loopback", "ecmp")
SOURCES = ("connected", "static", "kernel", "ospf", "bgp", "rip", "isis")   # what can be redistributed
ASN_MAX = 2**32 - 1
ECMP_MAX = 64
DEFAULT_ECMP = 16
BFD_INTERVAL = 200          # ms: 3 missed (0.6 s) is a failure; 100 ms flapped on a busy 2-core machine
BFD_MULTIPLIER = 3
OSPF_NETWORKS = ("point-to-point", "broadcast")


def suggest(word: Any, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(choices)


# ---------------------------------------------------------------- records

@dataclass(frozen=True)
class OspfSpec:
    area: str = "0.0.0.0"           # the area of its interfaces (and loopback) unless a link says
    cost: int = 10
    hello: int = 1                  # seconds
    dead: int = 4
    redistribute: tuple[str, ...] = ()


@dataclass(frozen=True)
class BgpSpec:
    asn: int
    announce: tuple[str, ...] = ()  # prefixes it originates besides its loopback and stub LANs
    redistribute: tuple[str, ...] = ()
    rr: bool = False                # a route reflector: the other iBGP routers of its AS are its clients
    keepalive: int = 1
    hold: int = 3


@dataclass(frozen=True)
class RipSpec:
    redistribute: tuple[str, ...] = ()
    update: int = 5                 # seconds between updates
    timeout: int = 15               # a route not refreshed for this long is invalid
    garbage: int = 10               # ... and removed this much later


@dataclass(frozen=True)
class IsisSpec:
    area: str = "49.0001"
    metric: int = 10
    hello: int = 1
    redistribute: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingSpec:
    ospf: OspfSpec | None = None
    bgp: BgpSpec | None = None
    rip: RipSpec | None = None
    isis: IsisSpec | None = None
    router_id: str | None = None
    loopback: str | None = None     # CIDR /32
    ecmp: int = DEFAULT_ECMP        # paths per destination (1: no multipath)

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(p for p in PROTOCOLS if getattr(self, p) is not None)

    @property
    def igps(self) -> tuple[str, ...]:
        return tuple(p for p in IGPS if getattr(self, p) is not None)


@dataclass(frozen=True)
class Bfd:
    interval: int = BFD_INTERVAL    # ms, transmit and receive
    multiplier: int = BFD_MULTIPLIER

    @property
    def profile(self) -> str:
        return f"tb-{self.interval}x{self.multiplier}"


@dataclass(frozen=True)
class IgpLink:
    """A link's settings for one IGP: per-direction values are dicts keyed by node name."""
    enabled: bool = True
    cost: Any = None                # OSPF cost / IS-IS metric: an int, or {node: int}
    area: str | None = None         # OSPF
    hello: int | None = None
    dead: int | None = None         # OSPF
    passive: bool | None = None
    network: str | None = None      # OSPF: "point-to-point" or "broadcast"

    def cost_of(self, node: str) -> int | None:
        return self.cost.get(node) if isinstance(self.cost, Mapping) else self.cost


# ---------------------------------------------------------------- value parsers

def _integer(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{what} {value!r} must be an integer from {low} to {high}")
    return value


def _boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{what} {value!r} must be true or false")
    return value


def _choice(value: Any, what: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise Invalid(f"{what} {value!r} is not one of {', '.join(choices)}", suggest(value, choices))
    return value


def parse_area(value: Any) -> str:
    """An OSPF area: an integer or a dotted quad, as a dotted quad."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= ASN_MAX:
        return str(ipaddress.IPv4Address(value))
    if isinstance(value, str):
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            pass
    raise Invalid(f"OSPF area {value!r} is neither an integer (0..{ASN_MAX}) nor a dotted quad like '0.0.0.1'",
                  "e.g. area=0 or area='0.0.0.1'")


def parse_asn(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ASN_MAX:
        raise Invalid(f"BGP asn {value!r} is out of range: an AS number is an integer from 1 to {ASN_MAX}",
                      "private ASNs are 64512-65534 and 4200000000-4294967294")
    return value


_ISIS_AREA = re.compile(r"^[0-9A-Fa-f]{2}(\.[0-9A-Fa-f]{4}){0,6}$")


def parse_isis_area(value: Any) -> str:
    if not isinstance(value, str) or not _ISIS_AREA.fullmatch(value):
        raise Invalid(f"IS-IS area {value!r} is not an area address like '49.0001'", "e.g. area='49.0001'")
    return value.lower()


def parse_prefixes(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise Invalid(f"{what} must be a list of IPv4 prefixes", f"e.g. {what}=['203.0.113.0/24']")
    found = []
    for item in value:
        try:
            net = ipaddress.IPv4Network(item, strict=True)
        except (ValueError, TypeError) as exc:
            raise Invalid(f"{what}: {item!r} is not an IPv4 prefix like '203.0.113.0/24' ({exc})") from None
        found.append(str(net))
    return tuple(dict.fromkeys(found))


def parse_sources(value: Any, protocol: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise Invalid(f"{protocol} redistribute {value!r} must be a list of sources",
                      f"e.g. redistribute=['connected']; known: {', '.join(s for s in SOURCES if s != protocol)}")
    known = [s for s in SOURCES if s != protocol]
    found = []
    for item in value:
        if item not in known:
            raise Invalid(f"{protocol} cannot redistribute {item!r}", suggest(item, known))
        found.append(item)
    return tuple(dict.fromkeys(found))


def _settings(value: Any, protocol: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    """A protocol's settings dict (True and None mean its defaults); unknown keys are refused."""
    if value is True or value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Invalid(f"{protocol} settings {value!r} must be a dict", f"e.g. {protocol}={{}} for its defaults")
    bad = [Invalid(f"unknown {protocol} setting {key!r}", suggest(key, keys)) for key in value if key not in keys]
    if bad:
        raise Invalids(bad)
    return value


def _collect(parsers) -> dict[str, Any]:
    """Run (key, thunk) parsers, gathering every Invalid before raising them together."""
    found, bad = {}, []
    for key, thunk in parsers:
        try:
            found[key] = thunk()
        except Invalids as many:
            bad += many.items
        except Invalid as one:
            bad.append(one)
    if bad:
        raise Invalids(bad)
    return found


OSPF_KEYS = ("area", "cost", "hello", "dead", "redistribute")
BGP_KEYS = ("asn", "announce", "redistribute", "rr", "keepalive", "hold")
RIP_KEYS = ("redistribute", "update", "timeout", "garbage")
ISIS_KEYS = ("area", "metric", "hello", "redistribute")


def _ospf(value: Any) -> OspfSpec:
    s = _settings(value, "ospf", OSPF_KEYS)
    d = OspfSpec()
    got = _collect([
        ("area", lambda: parse_area(s.get("area", 0))),
        ("cost", lambda: _integer(s.get("cost", d.cost), "ospf cost", 1, 65535)),
        ("hello", lambda: _integer(s.get("hello", d.hello), "ospf hello", 1, 65535)),
        ("dead", lambda: _integer(s.get("dead", d.dead), "ospf dead", 1, 65535)),
        ("redistribute", lambda: parse_sources(s.get("redistribute", ()), "ospf")),
    ])
    if got["dead"] <= got["hello"]:
        raise Invalid(f"ospf dead interval {got['dead']} s must be longer than the hello interval {got['hello']} s",
                      "e.g. hello=1, dead=4")
    return OspfSpec(**got)


def _bgp(value: Any) -> BgpSpec:
    if not isinstance(value, Mapping):
        raise Invalid(f"bgp settings {value!r} must be a dict with an 'asn'", "e.g. bgp={'asn': 65001}")
    s = _settings(value, "bgp", BGP_KEYS)
    if "asn" not in s:
        raise Invalid("bgp needs an 'asn' (the router's autonomous system number)", "e.g. bgp={'asn': 65001}")
    got = _collect([
        ("asn", lambda: parse_asn(s["asn"])),
        ("announce", lambda: parse_prefixes(s.get("announce", ()), "announce")),
        ("redistribute", lambda: parse_sources(s.get("redistribute", ()), "bgp")),
        ("rr", lambda: _boolean(s.get("rr", False), "bgp rr")),
        ("keepalive", lambda: _integer(s.get("keepalive", 1), "bgp keepalive", 1, 3600)),
        ("hold", lambda: _integer(s.get("hold", 3), "bgp hold", 3, 65535)),
    ])
    if got["hold"] < 3 * got["keepalive"]:
        raise Invalid(f"bgp hold time {got['hold']} s should be at least three keepalives ({3 * got['keepalive']} s)")
    return BgpSpec(**got)


def _rip(value: Any) -> RipSpec:
    s = _settings(value, "rip", RIP_KEYS)
    d = RipSpec()
    got = _collect([
        ("redistribute", lambda: parse_sources(s.get("redistribute", ()), "rip")),
        ("update", lambda: _integer(s.get("update", d.update), "rip update", 5, 3600)),
        ("timeout", lambda: _integer(s.get("timeout", d.timeout), "rip timeout", 5, 3600)),
        ("garbage", lambda: _integer(s.get("garbage", d.garbage), "rip garbage", 5, 3600)),
    ])
    if got["timeout"] <= got["update"]:
        raise Invalid(f"rip timeout {got['timeout']} s must be longer than the update interval {got['update']} s")
    return RipSpec(**got)


def _isis(value: Any) -> IsisSpec:
    s = _settings(value, "isis", ISIS_KEYS)
    d = IsisSpec()
    return IsisSpec(**_collect([
        ("area", lambda: parse_isis_area(s.get("area", d.area))),
        ("metric", lambda: _integer(s.get("metric", d.metric), "isis metric", 1, 16777215)),
        ("hello", lambda: _integer(s.get("hello", d.hello), "isis hello", 1, 600)),
        ("redistribute", lambda: parse_sources(s.get("redistribute", ()), "isis")),
    ]))


PROTOCOL_PARSERS = {"ospf": _ospf, "bgp": _bgp, "rip": _rip, "isis": _isis}


def parse_routing(value: Any) -> RoutingSpec:
    """The ``routing`` node attribute -> RoutingSpec (Invalids listing everything wrong)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        unknown = [Invalid(f"unknown routing protocol {p!r}", suggest(p, PROTOCOLS)) for p in value if p not in PROTOCOLS]
        if unknown:
            raise Invalids(unknown)
        value = {p: {} for p in value}
    if not isinstance(value, Mapping):
        raise Invalid(f"routing {value!r} must be a dict of protocols (or a protocol's name)",
                      "e.g. routing={'ospf': {'area': 0}} or routing='ospf'")
    bad: list[Invalid] = []
    for key in value:
        if key not in ROUTING_KEYS:
            what = "routing protocol or setting"
            bad.append(Invalid(f"unknown {what} {key!r}", suggest(key, ROUTING_KEYS)))
    parsed: dict[str, Any] = {}
    for protocol, parser in PROTOCOL_PARSERS.items():
        if protocol in value and value[protocol] is not False:
            try:
                parsed[protocol] = parser(value[protocol])
            except Invalids as many:
                bad += many.items
            except Invalid as one:
                bad.append(one)
    if "router_id" in value:
        rid = value["router_id"]
        try:
            address = ipaddress.IPv4Address(rid)
            if address.is_unspecified or address.is_multicast or int(address) == ASN_MAX:
                raise ValueError
            parsed["router_id"] = str(address)
        except (ValueError, TypeError):
            bad.append(Invalid(f"router_id {rid!r} is not a usable IPv4 address like '10.255.0.1'"))
    if "loopback" in value:
        loop = value["loopback"]
        try:
            iface = ipaddress.IPv4Interface(loop)
            if iface.network.prefixlen != 32 or "/" not in str(loop) or iface.ip.is_loopback or iface.ip.is_multicast \
                    or iface.ip.is_unspecified:
                raise ValueError
            parsed["loopback"] = str(iface)
        except (ValueError, TypeError):
            bad.append(Invalid(f"loopback {loop!r} is not an IPv4 host address with /32 like '10.255.0.1/32'"))
    if "ecmp" in value:
        try:
            parsed["ecmp"] = _integer(value["ecmp"], "ecmp (paths per destination)", 1, ECMP_MAX)
        except Invalid as one:
            bad.append(one)
    if bad:
        raise Invalids(bad)
    spec = RoutingSpec(**parsed)
    if not spec.protocols:
        raise Invalid("routing names no protocol", f"give one of {', '.join(PROTOCOLS)}, e.g. routing={{'ospf': {{}}}}")
    return spec


def parse_frr_config(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("frr_config must be non-empty text: FRR configuration lines appended to the router's",
                      "e.g. frr_config='router ospf\\n log-adjacency-changes detail\\n'")
    return value


# ---------------------------------------------------------------- link attributes

IGP_LINK_KEYS = {
    "ospf": ("cost", "area", "hello", "dead", "passive", "network"),
    "isis": ("metric", "hello", "passive"),
    "rip": ("passive",),
}


def _per_node_int(value: Any, what: str, low: int, high: int) -> Any:
    if isinstance(value, Mapping):
        return {node: _integer(v, f"{what} of {node!r}", low, high) for node, v in value.items()}
    return _integer(value, what, low, high)


def igp_link_parser(protocol: str):
    keys = IGP_LINK_KEYS[protocol]

    def parse(value: Any) -> IgpLink:
        if value is False:
            return IgpLink(enabled=False)
        s = _settings(value, f"{protocol} link", keys)
        parsers = []
        if "cost" in s or "metric" in s:
            high = 65535 if protocol == "ospf" else 16777215
            word = "cost" if protocol == "ospf" else "metric"
            parsers.append(("cost", lambda: _per_node_int(s[word], f"{protocol} {word}", 1, high)))
        if "area" in s:
            parsers.append(("area", lambda: parse_area(s["area"])))
        if "hello" in s:
            parsers.append(("hello", lambda: _integer(s["hello"], f"{protocol} hello", 1, 65535)))
        if "dead" in s:
            parsers.append(("dead", lambda: _integer(s["dead"], f"{protocol} dead", 1, 65535)))
        if "passive" in s:
            parsers.append(("passive", lambda: _boolean(s["passive"], f"{protocol} passive")))
        if "network" in s:
            parsers.append(("network", lambda: _choice(s["network"], "ospf network", OSPF_NETWORKS)))
        got = _collect(parsers)
        if got.get("hello") and got.get("dead") and got["dead"] <= got["hello"]:
            raise Invalid(f"ospf dead interval {got['dead']} s must be longer than the hello interval {got['hello']} s")
        return IgpLink(**got)
    return parse


def parse_bfd(value: Any) -> Bfd | None:
    if value is False:
        return None
    if value is True:
        return Bfd()
    if not isinstance(value, Mapping):
        raise Invalid(f"bfd {value!r} must be true, false or {{'interval': ms, 'multiplier': n}}", "e.g. bfd=True")
    s = _settings(value, "bfd", ("interval", "multiplier"))
    return Bfd(**_collect([
        ("interval", lambda: _integer(s.get("interval", BFD_INTERVAL), "bfd interval (ms)", 10, 60000)),
        ("multiplier", lambda: _integer(s.get("multiplier", BFD_MULTIPLIER), "bfd multiplier", 2, 255)),
    ]))


def parse_bgp_link(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"bgp {value!r} on a link must be true or false (false: no session over this link)")
    return value
