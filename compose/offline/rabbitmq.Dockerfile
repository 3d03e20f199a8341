# Stands in for rabbitmq:3-management: RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, management
# plugin on 15672, AMQP on 5672, data in /var/lib/rabbitmq, rabbitmq-diagnostics on PATH.
ARG BASE
FROM ${BASE}
RUN rabbitmq-plugins enable --offline rabbitmq_management >/dev/null \
 && chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# Logs to the console, like the official image (Debian's default is files).
ENV HOME=/var/lib/rabbitmq RABBITMQ_LOGS=-
USER rabbitmq
WORKDIR /var/lib/rabbitmq
EXPOSE 5672 15672
ENTRYPOINT ["docker-entrypoint.sh"]
# The server script itself, not Debian's /usr/sbin wrapper: that one neither execs (so SIGTERM
# from `docker stop` never reached the broker) nor logs to the console.
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
