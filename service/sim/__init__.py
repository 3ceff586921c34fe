"""Z.ai simulator: a local server speaking Z.ai's wire format (see docs/simulator.md)."""
