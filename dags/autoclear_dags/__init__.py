"""Helpers for the autoclear DAG files (dags/county_refresh.py, dags/statewide_refresh.py).

This package holds the Airflow side of autoclear: DAG factories, the task callables and the
drop-folder trigger. It imports `pipelines` only inside task callables, so parsing a DAG file
stays cheap. dags/.airflowignore keeps the DAG processor from parsing these modules as DAG files.
"""
