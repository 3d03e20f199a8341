# Stands in for rabbitmq:3-management: RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, management
# plugin on 15672, AMQP on 5672, data in /var/lib/rabbitmq, rabbitmq-diagnostics on PATH.
ARG BASE
FROM ${BASE}
RUN rabbitmq-plugins enable --offline rabbitmq_management >/dev/null \
 && chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq
COPY rabbitmq-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV HOME=/var/lib/rabbitmq
USER rabbitmq
EXPOSE 5672 15672
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["rabbitmq-server"]
