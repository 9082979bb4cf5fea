"""Small pieces that are not about chat at all: where files live, how logs look."""
