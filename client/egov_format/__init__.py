"""egov_format — e-Gov's file formats, shared by the client and the simulator.

Application packages (kousei.xml, forms, attachments; withdrawal and amendment packages), e-Gov's
form-check files, XMLDSig (standard, proven with xmlsec1), safe XML and zip reading, report_list
items and the format errors. It imports nothing else of this project.
"""
