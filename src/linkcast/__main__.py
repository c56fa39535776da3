"""Allow ``python -m linkcast``."""

from linkcast.cli import main

if __name__ == "__main__":
    main()
