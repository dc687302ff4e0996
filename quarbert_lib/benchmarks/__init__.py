"""Speed: throughput, the FLOP floor, regulariser and LoRA step costs and quartet serving (`make bench`)."""
