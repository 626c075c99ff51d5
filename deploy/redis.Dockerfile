# The rooms' shared store for several app processes (docs/rooms.md): Debian's redis-server (the same package
# the tests run), unprivileged (the package's redis user), no persistence (rooms are live sessions that expire
# after BACKPROP_ROOM_TTL_SECONDS of inactivity). Built by compose.yaml (`redis` service, context ./deploy);
# reachable only on compose's private network (not published).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["redis-cli", "ping"]
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no", \
     "--maxmemory", "200mb", "--maxmemory-policy", "noeviction", "--dir", "/tmp"]
