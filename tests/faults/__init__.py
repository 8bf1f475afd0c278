"""The fault suite (issue 9): restarts, full disks, outages, bursts and clock jumps."""
