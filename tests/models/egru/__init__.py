"""Tests of models/egru (package so that test module names cannot collide)."""
