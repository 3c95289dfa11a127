"""IATI 2.03 in and out: allocations as activities, and SALW activities (sector 15240) as requests.

Codelists are bundled from the IATI Standard under CC BY 4.0 (see data/NOTICE.md).
"""

from matcher.iati.reader import IatiImport, read_activities
from matcher.iati.writer import ReportingOrg, activities_xml

__all__ = ["IatiImport", "ReportingOrg", "activities_xml", "read_activities"]
