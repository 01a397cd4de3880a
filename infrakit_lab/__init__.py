"""InfraKit lab: local Debian 12 hosts (systemd-nspawn) to prove provisioning for real.

See ``infrakit_lab.host`` for the Python API (``LabHost``), ``infrakit_lab.cli`` for
``infrakit lab up|down|status|restart|packages``, ``infrakit_lab.rootfs`` for the cached
rootfs and ``infrakit_lab.network`` for addresses and NAT.
"""
