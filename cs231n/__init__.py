"""cs231n assignment 2 kit: numpy layers, models, solver and data tools."""
