# facetrust REST service and web UI with the default preset's models (YuNet + EdgeFace-XS,
# shipped inside the package: nothing is downloaded at run time), and the PostgreSQL client
# for a scaled-out deployment (deploy/docker-compose.yml builds this same image).
#
#   docker build -t facetrust .
#   docker run --rm -v facetrust-data:/data facetrust facetrust keys create      # prints a key once
#   docker run -d -p 8000:8000 -v facetrust-data:/data facetrust                # http://localhost:8000/ui/
#
# Keys, galleries and an optional /data/server.toml live in the /data volume (FACETRUST_HOME).
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY facetrust ./facetrust
RUN pip install --no-cache-dir '.[server,postgres]' \
    && facetrust models verify yunet retinaface-mnet025-onnx edgeface-xs

RUN useradd --create-home facetrust && mkdir /data && chown facetrust /data
USER facetrust
ENV FACETRUST_HOME=/data FACETRUST_OFFLINE=1
VOLUME /data
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["facetrust", "serve", "--host", "0.0.0.0", "--port", "8000"]
