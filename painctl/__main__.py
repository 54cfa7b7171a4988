from painctl.cli import main

if __name__ == "__main__":
    main()
