# Stands in for redis:7: redis-server on PATH, data in /data, runs as user redis, port 6379.
ARG BASE
FROM ${BASE}
RUN mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
