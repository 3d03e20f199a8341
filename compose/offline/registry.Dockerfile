# Stands in for registry:2 (the distribution registry), from Debian's docker-registry package:
# serves on :5000, keeps images in /var/lib/docker-registry. For air-gapped sites and for the
# Swarm of mafa_cli/engine_lab.py, whose nodes pull the stack's images from it.
# The config has no `auth`: run it only on a private network (the lab's bridge), or mount a
# config with htpasswd auth and TLS over /etc/docker/registry/config.yml.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
COPY registry-config.yml /etc/docker/registry/config.yml
VOLUME /var/lib/docker-registry
EXPOSE 5000
USER docker-registry
CMD ["docker-registry", "serve", "/etc/docker/registry/config.yml"]
