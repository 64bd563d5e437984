from .cli import main

if __name__ == "__main__":  # not when a spawned child of a process pool imports it
    main()
