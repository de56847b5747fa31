"""The engine of the GAN benchmark: data, training, runs, results and the command line."""
