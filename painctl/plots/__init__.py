"""Figures people look at rather than read: contact sheets (and, in time, heatmap and evaluation plots)."""
