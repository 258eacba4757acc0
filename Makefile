# Two commands matter: `make serve` (the API on port 8000) and `make test` (the test suite).
# Both create .venv and install what they need on first use; serve, superuser and api-key also create
# .env from .env.example (development settings: DEBUG=1).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
HOST ?= 0.0.0.0
PORT ?= 8000

.PHONY: install serve superuser api-key test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the project's range is then already satisfied and nothing pulls another build.
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

.env:
	cp .env.example .env

serve: install | .env
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(BIN)/python -m config.server -b $(HOST) -p $(PORT) config.asgi:application

superuser: install | .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createsuperuser

api-key: install | .env
	@test -n "$(NAME)" || { echo 'Usage: make api-key NAME=<who or what will use the key>'; exit 2; }
	@$(BIN)/python manage.py migrate --noinput >/dev/null
	@$(BIN)/python manage.py create_api_key "$(NAME)"

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m speech.engine.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
