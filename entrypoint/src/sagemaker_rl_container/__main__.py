from sagemaker_rl_container.cli import main

if __name__ == "__main__":
    main()
