# The two commands README.md promises. Each sets itself up on a fresh machine.
.PHONY: demo test test-slow bench

demo:
	bash scripts/setup.sh
	.venv/bin/nasbot-viz serve

test:
	bash scripts/setup.sh test
	.venv/bin/python -m pytest -q

test-slow:
	bash scripts/setup.sh test
	.venv/bin/python -m pytest -q -m slow

bench:
	bash scripts/setup.sh test
	.venv/bin/python benchmarks/run_all.py
