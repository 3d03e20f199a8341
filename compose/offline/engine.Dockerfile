# A Docker engine in a container (Debian's docker.io over the offline base): the "engine mafa
# cannot route into" of Docker Desktop or a remote host, for tests and demos on one machine, and
# a node for a Swarm of several. Run it as mafa_cli/engine_lab.py does (not --privileged).
ARG BASE=mafa-offline/base:bookworm
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io iptables ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*
COPY engine-entrypoint.sh /usr/local/bin/engine-entrypoint.sh
VOLUME /var/lib/docker
ENTRYPOINT ["bash", "/usr/local/bin/engine-entrypoint.sh"]
# Listens on a unix socket in /run/engine (a host directory mounted there, so the host reaches
# it without any TCP port).
CMD ["dockerd", "--host", "unix:///run/engine/docker.sock", "--storage-driver", "overlay2"]
