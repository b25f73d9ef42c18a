# gisgov — two commands matter: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEMO   := demo

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gisgov needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,test,bench]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

## make demo: build the reference county on the embedded default (GeoPackage) and run the
## main job: re-draw the urban communities, partition them into grids, assign red-grid
## members, seed a year of events (事件) and sweep the overdue ones, check, write the maps
## (with the event layer and per-grid event dashboards), print an emergency contact sweep
## (应急) of a 300 m circle and serve them (Ctrl-C stops; SERVE=0 skips serving)
SERVE ?= 1
PORT  ?= 8000
WS    := $(DEMO)/county.gpkg
demo: $(STAMP)
	@mkdir -p $(DEMO)
	$(BIN)/gisgov sample $(WS) --seed 1 --scale 1 --force
	$(BIN)/gisgov info $(WS)
	$(BIN)/gisgov redistrict $(WS) --communities urban --areas 5 --scenario reform --apply
	$(BIN)/gisgov grids $(WS)
	$(BIN)/gisgov assign $(WS) --lists-out $(DEMO)/contact-lists
	$(BIN)/gisgov events seed $(WS) --seed 1
	$(BIN)/gisgov events sweep $(WS)
	-$(BIN)/gisgov check $(WS)
	$(BIN)/gisgov maps $(WS) --out $(DEMO)/maps
	@echo "maps written to $(DEMO)/maps/index.html (event dashboards: $(DEMO)/maps/dashboards.html)"
	$(BIN)/gisgov area $(WS) --out $(DEMO)/emergency --circle $$($(BIN)/python -c \
	  "from gisgov.store import open_workspace; p = open_workspace('$(WS)').read('households', \
	  limit=1).geometry.iloc[0]; print(f'{p.x:.6f},{p.y:.6f},300')")
	@if [ "$(SERVE)" = "1" ]; then \
	  GRID=$$($(BIN)/python -c "from gisgov.store import open_workspace; \
	    print(sorted(open_workspace('$(WS)').read('grids')['code'])[0])"); \
	  echo "sign-in links (one-time; open on a phone or browser):"; \
	  $(BIN)/gisgov keys add $(WS) --role field --grids $$GRID --label demo-field \
	    --link http://127.0.0.1:$(PORT) | grep '/signin#code=' | sed 's/^/  field (grid '$$GRID'): /'; \
	  $(BIN)/gisgov keys add $(WS) --role coordinator --communities $$(echo $$GRID | cut -c1-12) \
	    --label demo-coordinator --link http://127.0.0.1:$(PORT) | grep '/signin#code=' \
	    | sed 's/^/  coordinator: /'; \
	  echo "serving: http://127.0.0.1:$(PORT)/maps/  (maps; event dashboards: /maps/dashboards.html)"; \
	  echo "         http://127.0.0.1:$(PORT)/field  (field page for phones)"; \
	  echo "         http://127.0.0.1:$(PORT)/collections  (OGC API Features)"; \
	  echo "         http://127.0.0.1:$(PORT)/api.html  (OpenAPI)"; \
	  $(BIN)/gisgov serve $(WS) --port $(PORT); \
	fi

## make test: lint, type-check and run every test
test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/districting.py
	$(BIN)/python benchmarks/assignment.py
	$(BIN)/python benchmarks/lookup.py
	$(BIN)/python benchmarks/sample.py
	$(BIN)/python benchmarks/edge.py
	$(BIN)/python benchmarks/serving.py --postgis "$${GISGOV_BENCH_POSTGIS_URL:-postgresql://postgres@127.0.0.1:5432/gisgov_serving}"

clean:
	rm -rf $(VENV) $(DEMO) test-artifacts .pytest_cache .mypy_cache .ruff_cache
