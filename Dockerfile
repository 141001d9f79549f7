# The simulator and the load tools in one image (docker-compose.yml runs it as the simulator, the Locust
# master and the Locust workers), installed from the project's wheel: what `pip install` users get
# (tests/test_installed.py tests that wheel outside the checkout).
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY client ./client
COPY simulator ./simulator
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim
WORKDIR /app
COPY --from=wheel /dist /dist
RUN pip install --no-cache-dir "$(ls /dist/egov_sandbox-*.whl)[sim,load]" && rm -rf /dist
COPY loadtests ./loadtests
ENV EGOV_SIM_DATA_DIR=/data
EXPOSE 8080
CMD ["egov-sim", "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
