# The workshop reverse proxy: Debian's nginx with deploy/nginx.conf, unprivileged (www-data), port 8080.
# Built by compose.yaml (`proxy` service, context ./deploy).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx \
    && rm -rf /var/lib/apt/lists/*
COPY nginx.conf /etc/nginx/backprop-lab.conf
USER www-data
EXPOSE 8080
CMD ["nginx", "-c", "/etc/nginx/backprop-lab.conf", "-e", "stderr", "-g", "daemon off;"]
