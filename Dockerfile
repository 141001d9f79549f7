# The simulator and the load tools in one image (docker-compose.yml runs it as the simulator,
# the Locust master and the Locust workers).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY client ./client
COPY simulator ./simulator
COPY loadtests ./loadtests
RUN pip install --no-cache-dir '.[sim,load]'
ENV EGOV_SIM_DATA_DIR=/data
EXPOSE 8080
CMD ["egov-sim", "serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"]
