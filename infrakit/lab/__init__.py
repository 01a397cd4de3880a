"""InfraKit lab: local Debian 12 hosts (systemd-nspawn) to prove provisioning for real.

See ``infrakit.lab.host`` for the Python API (``LabHost``), ``infrakit.lab.cli`` for
``infrakit lab up|down|status|restart|packages``, ``infrakit.lab.rootfs`` for the cached
rootfs and ``infrakit.lab.network`` for addresses and NAT.
"""
