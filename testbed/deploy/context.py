"""What every deploy phase and plug-in hook gets: the plan, the run's names, the journal,
the namespace worker, the planned interface indexes."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from testbed import backends
from testbed.kernel import nft, nsfs
from testbed.kernel.journal import Entry, Journal
from testbed.model.plan import Plan

Progress = Callable[[str, int, int], None]


def netns_name(run_id: str, node: str) -> str:
    return f"{run_id}-{node}"


def if_indexes(plan: Plan) -> dict[tuple[str, str], int]:
    """The ifindex each interface gets in its namespace (lo is 1; ours count from 2)."""
    return {(n.name, intf.name): i for n in plan.nodes for i, intf in enumerate(n.interfaces, start=2)}


@dataclass
class DeployContext:
    plan: Plan
    journal: Journal
    worker: nsfs.NetnsWorker
    progress: Progress | None = None
    index: dict[tuple[str, str], int] = field(default_factory=dict)
    fds: dict[str, int] = field(default_factory=dict)       # node -> namespace fd, inside opened()
    deferred: dict[str, list[tuple[str, str]]] = field(default_factory=dict)   # sysctls of later interfaces

    def __post_init__(self) -> None:
        if not self.index:
            self.index = if_indexes(self.plan)

    @property
    def run_id(self) -> str:
        return self.journal.run_id

    def ns(self, node: str) -> str:
        return netns_name(self.journal.run_id, node)

    @contextmanager
    def opened(self, nodes: Iterable[str]) -> Iterator[None]:
        """Hold the namespace files of ``nodes`` open for the block (``fd(node)`` gives them;
        for IFLA_NET_NS_FD in requests committed inside it)."""
        names = sorted(set(nodes))
        self.fds = dict(zip(names, nsfs.open_all(self.ns(n) for n in names).values()))
        try:
            yield
        finally:
            nsfs.close_all(self.fds)

    def fd(self, node: str) -> int:
        return self.fds[node]

    def record(self, entries: Iterable[Entry]) -> None:
        """Journal entries before the objects are made."""
        self.journal.record(entries)

    def tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def backend(self, node: str):
        return backends.of_node(self.plan, node)

    def load_nft(self, node: str, script: str) -> None:
        """Load an nft script into a node's namespace from the worker thread (libnftables);
        its tables go with the namespace."""
        try:
            self.worker.run_inside(self.ns(node), nft.run, script)
        except nft.NftError as exc:
            raise nft.NftError(f"node {node}: {exc}") from None
