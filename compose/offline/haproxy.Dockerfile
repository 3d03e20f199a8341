# Stands in for haproxy:2.6: config at /usr/local/etc/haproxy/haproxy.cfg, runs as user haproxy.
ARG BASE
FROM ${BASE}
RUN mkdir -p /usr/local/etc/haproxy /var/lib/haproxy && chown haproxy:haproxy /var/lib/haproxy
USER haproxy
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
