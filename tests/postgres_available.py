"""Exit 0 if the PostgreSQL server of the given DATABASE_URL accepts connections."""

import sys

import environ
import psycopg


def main(url: str) -> int:
    config = environ.Env.db_url_config(url)
    try:
        psycopg.connect(
            dbname="postgres",
            host=config["HOST"] or None,
            port=config["PORT"] or None,
            user=config["USER"] or None,
            password=config["PASSWORD"] or None,
            connect_timeout=3,
        ).close()
    except psycopg.Error:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
