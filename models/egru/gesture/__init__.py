"""DVS128 Gesture on SpiNNaker2: event I/O, a synthetic generator, chip-side preprocessing,
an EGRU classifier and its training. See docs/gesture.md.

Accuracy measured on the synthetic streams is not accuracy on the real DVS128 Gesture data set.
"""
