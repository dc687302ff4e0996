"""What the study tells its reader, from saved tables only: markdown tables, the verdict policy, the generated
findings, figures (`make figures`), the benchmark report and the error browser widget."""
