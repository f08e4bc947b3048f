# testbed: `make run` installs everything and builds the three-hosts topology;
# `make test` installs everything and runs the whole suite (unit, integration, kernel lane).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := iproute2 iputils-ping iperf3 iperf net-tools mininet vlan ethtool nftables tcpdump procps python3-venv dnsmasq-base isc-dhcp-client openvswitch-switch openvswitch-testcontroller chromium frr traceroute curl
STAMP := $(VENV)/.installed

.PHONY: install run test unit integration clean-runs vm-lane

install: $(STAMP)

$(STAMP): setup.py scripts/install-system.sh
	bash scripts/install-system.sh $(APT_PACKAGES)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(VENV)/bin/testbed run topologies/three_hosts.py --test pingall

test: install vm-lane
	$(PY) -m pytest -q tests/unit tests/integration tests/kernel

# The stock-kernel lane (`--vm`, tests/kernel): QEMU, a stock kernel, busybox-static, virtme-ng.
vm-lane: install
	bash scripts/install-vm-lane.sh $(VENV)

unit: install
	$(PY) -m pytest -q tests/unit

clean-runs: install
	$(VENV)/bin/testbed clean --all
