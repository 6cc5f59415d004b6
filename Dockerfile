# micro-user images, built by docker-compose.yaml from this one file:
#   runtime  user-fcgi, reset-mailer, the scripts, templates and migrations
#            (the fcgi, mailer and migrate services); no compiler inside
#   nginx    the official nginx image with the site config from nginx/ as a
#            template and the stylesheet from templates/static
# The builder stage only compiles; nothing of it but the two binaries ships.

ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG NGINX_IMAGE=nginx:1.26-bookworm

# ------------------------------------------------------------------ builder
FROM ${DEBIAN_IMAGE} AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gcc make pkg-config libc6-dev \
        libfcgi-dev libjson-c-dev libmariadb-dev librabbitmq-dev libesmtp-dev \
        libsodium-dev libjwt-dev libcrypt-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY fcgi-app/ fcgi-app/
RUN make all

# ------------------------------------------------------------------ runtime
FROM ${DEBIAN_IMAGE} AS runtime
# Runtime libraries of the two binaries (what the -dev packages above depend
# on), the FastCGI pool, cron + flock for the mailer, the mariadb client for
# migrations, cgi-fcgi for the health check, python3-pika for scripts/dlq.sh,
# CA certificates for SMTP STARTTLS.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libfcgi0ldbl libjson-c5 libmariadb3 librabbitmq4 libesmtp6 \
        libsodium23 libjwt0 libcrypt1 \
        spawn-fcgi multiwatch libfcgi-bin cron util-linux mariadb-client \
        python3 python3-pika ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 # cron cannot set the login uid inside a container; without this every job fails.
 && sed -i '/pam_loginuid\.so/s/^/#/' /etc/pam.d/cron \
 && useradd --system --home-dir /opt/micro-user --shell /usr/sbin/nologin micro-user \
 && install -d -m 1777 /run/lock

COPY --from=builder /src/build/user-fcgi /src/build/reset-mailer /opt/micro-user/bin/
COPY scripts/ /opt/micro-user/scripts/
COPY sql/ /opt/micro-user/sql/
COPY templates/ /opt/micro-user/templates/

ENV PATH=/opt/micro-user/bin:/opt/micro-user/scripts:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TEMPLATE_DIR=/opt/micro-user/templates \
    USER_FCGI_BIN=/opt/micro-user/bin/user-fcgi \
    RESET_MAILER_BIN=/opt/micro-user/bin/reset-mailer
WORKDIR /opt/micro-user
USER micro-user
# No command of its own: each service names one in docker-compose.yaml.

# ------------------------------------------------------------------ nginx
FROM ${NGINX_IMAGE} AS nginx
# The image renders /etc/nginx/templates/*.template with envsubst (only the
# variables set in the environment: the MU_* placeholders) into conf.d/.
RUN rm -f /etc/nginx/conf.d/default.conf
COPY nginx/micro-user.conf /etc/nginx/templates/micro-user.conf.template
COPY templates/static/ /srv/micro-user/static/
